"""Helpers of the image test (k8s-tests/test_image.py)."""
