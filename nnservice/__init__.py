"""nnservice: configuration and the command-line entry point that starts the stack."""
