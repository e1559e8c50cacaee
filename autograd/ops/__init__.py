"""The differentiable ops, one small class each, grouped by family.

Every op subclasses :class:`autograd.function.Op`: ``forward`` on arrays,
``backward`` on Tensors, the derivative rule in the docstring.
"""
