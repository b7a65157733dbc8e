"""Image tagging: uploads, asynchronous analysis and tag lookup on Azure Storage."""
