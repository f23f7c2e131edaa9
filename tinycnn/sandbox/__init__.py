"""Where learner code runs: the isolation levels and the child's folder
(isolation), the jail that starts it (jail), the probe that imports the
learner's files in it and traces the network (probe; many course models
at once: probe_many), and the traced network as plain data between the
two processes (graphfile).

Everything the child hands back is untrusted data. May import:
tinycnn.course, tinycnn.paths, tinycnn.posix, tinycnn.train (the probe
describes the learner's Recipe).
"""
