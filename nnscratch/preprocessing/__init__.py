"""Keras's ``keras.preprocessing`` path: ``nn.preprocessing.image.load_img`` / ``img_to_array``."""
from nnscratch.preprocessing import image

__all__ = ["image"]
