"""SavedModel export whose ``serve`` endpoint holds its weights as constants.

`keras.Model.export` writes a SavedModel whose functions capture variables owned by the
loaded object; ``tf.saved_model.load(p).serve(x)`` then fails ("Called a function
referencing variables which have been deleted") because the temporary loaded object is
garbage-collected before ``serve`` runs. Freezing the weights into the serving graph makes
that one-liner, and ``keras.layers.TFSMLayer(p, call_endpoint="serve")``, work.
"""


def export_frozen_saved_model(model, path):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="inputs")
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)

    module = tf.Module()
    module.serve = tf.function(lambda x: frozen(x)[0], input_signature=[spec])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)
