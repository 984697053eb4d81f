"""Stage 4, segment: templates, their static prefix and their dynamic suffix.

``groups`` clusters calls into template groups by their leading static text and finds where each
group's calls diverge; ``volatile`` recognises per-call values (dates, times, ids, names, counters)
inside text that is otherwise static.
"""
