"""Local stand-ins for Azure endpoints (loopback only), reusable by any test or benchmark."""
