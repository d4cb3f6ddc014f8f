"""The recipe's feature extraction, as its Python code does it, without TensorFlow:
keras.utils.load_img(path, target_size=(224, 224)) is PIL's open, convert("RGB") and a
NEAREST resize; preprocess_input (caffe mode) reverses the channels to BGR and subtracts
the ImageNet means; onnxruntime runs the model; the vector is divided by its L2 norm.
`tools/recipe_models.py check-reference` checks this tensor against Keras's own functions.
"""
import numpy as np
import onnxruntime
from PIL import Image, ImageOps

CAFFE_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def load_img(path, exif_transpose=False):
    """Keras's load_img (no EXIF orientation); with exif_transpose, the picture turned
    upright first, as imgsearch decodes it."""
    with Image.open(path) as img:
        if exif_transpose:
            img = ImageOps.exif_transpose(img)
        if img.mode != "RGB":
            img = img.convert("RGB")
        return img.resize((224, 224), Image.NEAREST)


def preprocess_input(img):
    x = np.asarray(img, dtype=np.float32)[..., ::-1]
    return (x - CAFFE_MEANS)[np.newaxis]


def extract_feature(model_path, image_path, exif_transpose=False):
    """One InferenceSession per image, as the recipe does."""
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    x = preprocess_input(load_img(image_path, exif_transpose))
    feature = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    return feature / np.linalg.norm(feature)
