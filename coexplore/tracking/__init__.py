"""Tracking: MLflow logging of studies and trials, and plots."""
