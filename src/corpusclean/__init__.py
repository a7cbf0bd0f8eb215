"""corpusclean."""
