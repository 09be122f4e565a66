"""The errors export/ raises. No TensorFlow here: `from export import ExportError` and the
command line's argument checks stay cheap."""


class ExportError(ValueError):
    """A user's export request cannot be carried out; the message is one line."""


class VerificationError(RuntimeError):
    """The exported model does not compute what the Keras model computes."""
