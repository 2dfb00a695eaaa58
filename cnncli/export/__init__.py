"""Taking a spec out of cnncli: PyTorch code, ONNX files, and what both need (names, weights, input transform)."""
