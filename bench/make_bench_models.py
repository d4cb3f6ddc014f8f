#!/usr/bin/env python3
"""Exports ResNet50- and VGG16-architecture feature extractors (random weights) to ONNX,
shaped like the recipe's Keras models with include_top=False, pooling='max':
resnet50 -> N x 2048, vgg16 -> N x 512, from N x 3 x 224 x 224 with a dynamic batch.

    /usr/bin/python3 bench/make_bench_models.py OUT_DIR

Needs Debian's python3-torch and python3-torchvision. No weights are downloaded.
"""
import json
import os
import sys

import torch
import torchvision


class GlobalMaxPool(torch.nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return torch.amax(self.features(x), dim=(2, 3))


def resnet50_features():
    net = torchvision.models.resnet50(weights=None)
    return torch.nn.Sequential(*list(net.children())[:-2])  # drop avgpool and fc


def vgg16_features():
    return torchvision.models.vgg16(weights=None).features


def export(name, features, out_dir):
    torch.manual_seed(0)
    model = GlobalMaxPool(features).eval()
    path = os.path.join(out_dir, name + ".onnx")
    dummy = torch.randn(1, 3, 224, 224)
    torch.onnx.export(model, dummy, path, input_names=["image"], output_names=["features"],
                      dynamic_axes={"image": {0: "N"}, "features": {0: "N"}}, opset_version=13)
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump({"preset": "torch", "name": name}, f)
    print(path)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, make in (("resnet50", resnet50_features), ("vgg16", vgg16_features)):
        if not os.path.exists(os.path.join(out_dir, name + ".onnx")):
            export(name, make(), out_dir)


if __name__ == "__main__":
    main()
