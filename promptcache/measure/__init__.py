"""Stage 3, measure: tokens and shapes.

``tokens`` renders a call the way its provider's chat template does and counts it with that
provider's tokenizer (exact for DeepSeek V4, stated as an estimate elsewhere); ``shape`` turns a
call into its ``Shape`` (token counts per piece and the block hashes a prefix cache sees), hashing
each distinct piece once; ``translate`` scales shapes to another tokenizer; ``anonymize`` writes
the content-free block-hash trace of a log from its shapes.
"""
