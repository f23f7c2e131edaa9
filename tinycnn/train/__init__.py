"""The trainer: MNIST in memory (data), where and in what precision a
network trains (device, precision), a Recipe and the training loop
(engine), its CUDA-graph step (graphed), and run records (records).

It trains any nn.Module and knows nothing of learner code, the sandbox
or the checks. May import: tinycnn.course, tinycnn.paths, tinycnn.posix.
"""
