"""The command-line client of the image tagging API: `tagging`, installed by `pip install .`."""
