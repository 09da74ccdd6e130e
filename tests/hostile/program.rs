//! Programs and artifacts as attacks: files a `.mlp` should not read, commands, tampered artifacts.
