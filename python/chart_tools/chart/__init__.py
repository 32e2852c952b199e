"""The chart itself (render tier): render, validate, values and their docs, operator conversion."""
