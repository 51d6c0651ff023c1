"""Ways off `tf.compat.v1` and onto real models: export a served TF1 model as
a TF2 SavedModel (verified equal), build a bag-of-words model from public
word vectors. Operator tools, run by the CLI; the server never imports them.
"""
