"""harness/grid."""
