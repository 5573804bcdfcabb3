"""Model plumbing: the embedded llama.cpp server, the text tool-call adapter for small models, and
reply caps."""
