"""Stage 8, recommend: which model (DeepSeek V4 Pro, Flash or a mix) for which calls.

``workload`` reads the evidence a log carries about each group's work (tools, tool calls, thinking,
chains, task keywords); ``options`` prices the model options (all Pro, all Flash, per group,
Pro-first chains, the current mix) from simulations and returns the recommendation as data;
``concurrency`` checks each option against a model's concurrency limit.
"""
