# Ported to nnscratch from the TensorFlow tutorial "TensorFlow 2 quickstart for beginners"
# (tensorflow/docs, site/en/tutorials/quickstart/beginner.ipynb; Apache 2.0), code cells in
# order. Edits: `tf.keras` -> `nnscratch` (`import tensorflow as tf` -> `import nnscratch`,
# `tf.__version__` -> `nnscratch.__version__`, `tf.nn.softmax` -> `nnscratch.activations.softmax`).
import nnscratch
print("TensorFlow version:", nnscratch.__version__)

mnist = nnscratch.datasets.mnist

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = nnscratch.models.Sequential([
  nnscratch.layers.Flatten(input_shape=(28, 28)),
  nnscratch.layers.Dense(128, activation='relu'),
  nnscratch.layers.Dropout(0.2),
  nnscratch.layers.Dense(10)
])

predictions = model(x_train[:1]).numpy()
predictions

nnscratch.activations.softmax(predictions).numpy()

loss_fn = nnscratch.losses.SparseCategoricalCrossentropy(from_logits=True)

loss_fn(y_train[:1], predictions).numpy()

model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=5)

model.evaluate(x_test,  y_test, verbose=2)

probability_model = nnscratch.Sequential([
  model,
  nnscratch.layers.Softmax()
])

probability_model(x_test[:5])
