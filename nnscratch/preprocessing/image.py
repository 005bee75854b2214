"""``keras.preprocessing.image``: load_img and img_to_array (Pillow, host arrays)."""
from nnscratch.data import img_to_array, load_img  # noqa: F401

__all__ = ["load_img", "img_to_array"]
