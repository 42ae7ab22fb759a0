#!/usr/bin/python3
"""Exports the transformer and recurrent models of the side-by-side bench (not
committed): torch.nn.TransformerEncoder, batch_first, 4 layers (2 for d_model
128), ReLU feed-forward of 4 x d_model, post-norm, random seeded weights,
sequence length a dynamic axis, at opset 13 (decomposed LayerNorm) and 17;
and speech-style recurrent encoders over 80 features, 2 layers of 512: an
LSTM and a bidirectional GRU (opset 13, sequence length dynamic).

    /usr/bin/python3 bench/export_bench_models.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, d, heads, layers, seed):
        super().__init__()
        torch.manual_seed(seed)
        layer = nn.TransformerEncoderLayer(d_model=d, nhead=heads, dim_feedforward=4 * d, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        for i, l in enumerate(self.enc.layers):  # deep copies: give each layer its own weights
            torch.manual_seed(seed * 100 + i)
            for p in l.parameters():
                with torch.no_grad():
                    p.copy_(torch.randn_like(p) * (0.05 if p.dim() > 1 else 0.02))
            for n in (l.norm1, l.norm2):
                with torch.no_grad():
                    n.weight.fill_(1.0)

    def forward(self, x, mask):
        return self.enc(x, src_key_padding_mask=mask)


class Recurrent(nn.Module):
    def __init__(self, cell, seed, **kw):
        super().__init__()
        torch.manual_seed(seed)
        self.rnn = cell(80, 512, num_layers=2, batch_first=True, **kw)

    def forward(self, x):
        return self.rnn(x)[0]


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, model in (("lstm_h512", Recurrent(nn.LSTM, 1)), ("bigru_h512", Recurrent(nn.GRU, 2, bidirectional=True))):
        path = os.path.join(out, name + ".onnx")
        if not os.path.exists(path):
            torch.onnx.export(model.eval(), torch.randn(1, 128, 80), path, opset_version=13, input_names=["x"],
                              output_names=["output"], dynamic_axes={"x": {1: "seq"}})
            print("exported", path)
    for d, heads, layers in ((128, 4, 2), (384, 6, 4), (768, 12, 4)):
        model = Encoder(d, heads, layers, d).eval()
        x = torch.randn(1, 128, d)
        mask = torch.zeros(1, 128, dtype=torch.bool)
        for opset in (13, 17):
            path = os.path.join(out, f"encoder_d{d}_op{opset}.onnx")
            if os.path.exists(path):
                continue
            torch.onnx.export(model, (x, mask), path, opset_version=opset, input_names=["x", "mask"],
                              output_names=["output"], dynamic_axes={"x": {1: "seq"}, "mask": {1: "seq"}})
            print("exported", path)


if __name__ == "__main__":
    main(sys.argv[1])
