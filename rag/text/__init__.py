"""Text kernel: normalisation, one sentence splitter, language detection, analysis. Imports nothing else of rag."""
