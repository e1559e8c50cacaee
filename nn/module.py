"""``Module``: the base class of every layer and model (``torch.nn.Module``).

Assigning a Parameter, a Module or (through ``register_buffer``) a buffer to an
attribute registers it, in assignment order; ``parameters()``, ``state_dict()``
and friends walk those registries, own entries first and then each child's,
with PyTorch's dotted names (``"0.weight"``, ``"encoder.fc.bias"``).

Registered values also live in the instance ``__dict__``, so reading
``self.weight`` in ``forward`` is a plain attribute read (no ``__getattr__``
detour on the hot path); ``__setattr__``/``__delattr__`` keep both in step.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from autograd import backend
from autograd.engine import no_grad
from autograd.function import constant
from autograd.tensor import NotATensorError, Tensor

from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not match."""

    missing_keys: list
    unexpected_keys: list


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (how nested reprs are laid out)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return "\n".join([lines[0]] + [pad + line if line.strip() else "" for line in lines[1:]])


def _loadable(key: str, source: Any, target: Tensor) -> tuple[np.ndarray | None, str | None]:
    """``source`` as an array ready to copy into ``target``, or the reason it is not."""
    try:
        # onto the target's device (a checkpoint loaded on the CPU fills a GPU model)
        array = backend.asarray(source.data if isinstance(source, Tensor) else source,
                                like=target.data)
    except ValueError:  # a ragged list
        array = None
    if array is None or array.dtype.kind not in "biuf":
        return None, (f'While copying the parameter named "{key}", expected a Tensor or '
                      f"an array of numbers from the checkpoint but received "
                      f"{type(source).__name__}"
                      + ("" if array is None else f" of dtype {array.dtype}"))
    if tuple(array.shape) != tuple(target.shape):
        return None, (f"size mismatch for {key}: copying a param with shape "
                      f"{tuple(array.shape)} from checkpoint, the shape in current model is "
                      f"{tuple(target.shape)}.")
    return array.astype(target.dtype, copy=False), None


def _moved(array: Any, dtype: Any, device: Any) -> Any:
    """``array`` converted to a float ``dtype`` (floating arrays only) and moved to
    ``device``; itself when neither changes it."""
    if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
        array = array.astype(dtype)
    return array if device is None else backend.to_device(array, device)


class Module:
    """Base class of layers and models: subclass it, assign layers and Parameters
    in ``__init__`` (after ``super().__init__()``) and define ``forward``."""

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.forward(*args, **kwargs)
        except NotATensorError as err:
            if err.layer is not None:  # an inner layer already said who it was
                raise
            named = NotATensorError(f"{self._get_name()}: {err}")
            named.layer = self._get_name()
            raise named from None

    # ------------------------------------------------------------------ registration
    def _registries(self) -> tuple:
        try:
            d = self.__dict__
            return d["_parameters"], d["_buffers"], d["_modules"]
        except KeyError:
            raise AttributeError(
                f"cannot assign to a {type(self).__name__} before Module.__init__() call "
                "(call super().__init__() first)"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)):
            if name not in self._registries()[0 if isinstance(value, Parameter) else 2]:
                self._forget(name)  # a plain attribute or another kind gives way
                self.__dict__.pop(name, None)
            if isinstance(value, Parameter):
                self.register_parameter(name, value)
            else:
                self.add_module(name, value)
            return
        if "_parameters" in self.__dict__:
            params, buffers, modules = self._registries()
            if name in params:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                        "(nn.Parameter or None expected)"
                    )
                params[name] = None
            elif name in modules:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as child module '{name}' "
                        "(nn.Module or None expected)"
                    )
                modules[name] = None
            elif name in buffers:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                        "(Tensor or None expected)"
                    )
                buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in self._registries():
            registry.pop(name, None)
        self._non_persistent_buffers.discard(name)
        object.__delattr__(self, name)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (where a re-registration
        replaces it in place, keeping its position in the order)."""
        for registry in self._registries():
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def _check_name(self, name: Any, kind: str, registry: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f'{kind} name can\'t contain "." or be empty, got {name!r}')
        if hasattr(type(self), name) or (name in self.__dict__ and name not in registry):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter or None) as ``self.<name>``."""
        params = self._registries()[0]
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(nn.Parameter or None required)"
            )
        if name not in params:
            self._check_name(name, "parameter", params)
        self._forget(name, keep=params)
        params[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a Tensor that is state but not learned (e.g. BatchNorm's
        running mean). Persistent buffers go into ``state_dict``."""
        buffers = self._registries()[1]
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(Tensor or None required)"
            )
        if name not in buffers:
            self._check_name(name, "buffer", buffers)
        self._forget(name, keep=buffers)
        buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``self.<name>``."""
        modules = self._registries()[2]
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in modules:
            self._check_name(name, "module", modules)
        self._forget(name, keep=modules)
        modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` (``""`` is ``self``)."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{module._get_name()} has no submodule `{part}`")
            module = child
        return module

    # ------------------------------------------------------------------ walking
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for ``self`` and every module below, depth first."""
        stack = [(prefix, self)]
        memo = set() if memo is None else memo
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(name + ("." if name else "") + key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if (
            recurse) else [(prefix, self)]
        for owner_name, owner in owners:
            for name, value in owner.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield owner_name + ("." if owner_name else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs: own parameters first, then each child's;
        a parameter shared by two modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every child; returns ``self``."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """``train(False)``: layers like Dropout and BatchNorm switch to inference."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None, or to zeros in place)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = constant(backend.zeros_like(param.grad.data))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on ``self``; returns ``self``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype / device
    def to(self, *args: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Module:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)`` (its
        device and dtype): moves every parameter and buffer to ``device`` and converts
        the floating-point ones to ``dtype``, in place, gradients too. Parameters keep
        their identity, so an optimizer made before the move still works. Returns
        ``self``."""
        for arg in args:
            if isinstance(arg, (str, backend.Device)):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                dtype = arg
        target = None if device is None else backend.as_device(device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(
                    f"nn.Module.to only accepts floating point dtypes, but got {dtype}")
        for value in [*self.parameters(), *self.buffers()]:
            converted = _moved(value.data, dtype, target)
            if converted is value.data:
                continue
            value.data = converted
            if value.grad is not None:
                value.grad = constant(_moved(value.grad.data, dtype, target))
        return self

    def cuda(self, device: Any = None) -> Module:
        """``to("cuda")`` (or ``to("cuda:N")`` for an index ``device``), in place."""
        if isinstance(device, int):
            device = backend.Device("cuda", device)
        return self.to(device if device is not None else "cuda")

    def cpu(self) -> Module:
        """``to("cpu")``, in place."""
        return self.to("cpu")

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name, in PyTorch's order.

        The values share memory with the module (detached unless ``keep_vars``).
        """
        out = OrderedDict() if destination is None else destination
        for name, module in self.named_modules(prefix=prefix.rstrip("."),
                                               remove_duplicate=False):
            head = name + "." if name else ""
            for key, param in module._parameters.items():
                if param is not None:
                    out[head + key] = param if keep_vars else param.detach()
            for key, buffer in module._buffers.items():
                if buffer is not None and key not in module._non_persistent_buffers:
                    out[head + key] = buffer if keep_vars else buffer.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s values into the parameters and buffers (in place).

        A value whose shape differs is always an error; with ``strict`` (default)
        missing and unexpected keys are too. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        # everything is checked and converted first, then copied: all or nothing
        errors, ready = [], []
        for key, target in own.items():
            if key in state_dict:
                array, error = _loadable(key, state_dict[key], target)
                if error is None:
                    ready.append((target, array))
                else:
                    errors.append(error)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for target, array in ready:
                target.copy_(array)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"
