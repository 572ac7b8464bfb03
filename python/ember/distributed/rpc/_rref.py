"""RRef: a reference to a value that lives on one worker (its owner).

`RRef(value)` makes this worker the owner; `rpc.remote(...)` returns a user RRef whose value
the destination computes and keeps. An RRef sent in an RPC arrives as the owner's RRef on the
owner (so `local_value()` works there) and as a user RRef elsewhere. Values are identified by
(creating worker, counter), PyTorch's GloballyUniqueId.
"""

from ._agent import _FETCH

_get_agent = None


def _set_agent_getter(fn):
    global _get_agent
    _get_agent = fn


class RRef:
    """PyTorch's RRef (OwnerRRef on the owner, UserRRef elsewhere)."""

    def __init__(self, value, type_hint=None):
        a = _get_agent()
        self._key = a.new_rref_key()
        self._owner = a.rank
        self._created = None
        a.owned(self._key)._complete(value, None)

    @classmethod
    def _make(cls, key, owner, created):
        r = cls.__new__(cls)
        r._key, r._owner, r._created = key, owner, created
        return r

    def __repr__(self):
        gid = f"GloballyUniqueId(created_on={self._key[0]}, local_id={self._key[1]})"
        if self.is_owner():
            return f"OwnerRRef({gid})"
        return f"UserRRef(RRefId = {gid})"

    def __reduce__(self):
        return (_rref_from_wire, (self._key, self._owner))

    def is_owner(self):
        return self._owner == _get_agent().rank

    def owner(self):
        """The WorkerInfo of the owner."""
        return _get_agent().infos[self._owner]

    def owner_name(self):
        return _get_agent().names[self._owner]

    def confirmed_by_owner(self):
        """True once the owner knows of this RRef (for remote(): its creation was answered)."""
        if self.is_owner() or self._created is None:
            return True
        return self._created.done() and self._created._exc is None

    def _check_created(self):
        # remote()'s creation request failed (e.g. it timed out): report that error
        if self._created is not None and self._created.done() and self._created._exc is not None:
            raise self._created._exc

    def local_value(self):
        """The value, on the owner (blocks until a remote() creating it has run)."""
        if not self.is_owner():
            raise RuntimeError(
                f"RRef.local_value: this worker ({_get_agent().me.name}) does not own the RRef "
                f"{self!r}; its owner is {self.owner_name()}. Call local_value() on the owner, "
                "or use to_here()."
            )
        return _get_agent().owned(self._key).wait()

    def to_here(self, timeout=-1.0):
        """A copy of the value here (blocking); on the owner, the value itself."""
        if self.is_owner():
            return self.local_value()
        a = _get_agent()
        if self._created is not None:
            # remote()'s own answer comes first: if it failed (e.g. its timeout expired),
            # to_here raises that error, as in PyTorch
            if not self._created._wait_for(a._timeout(timeout)):
                from ._agent import timeout_error

                raise timeout_error(a._timeout(timeout))
            self._check_created()
        return a.request(self._owner, _FETCH, (self._key,), timeout).wait()

    def rpc_sync(self, timeout=-1.0):
        """`rref.rpc_sync().m(*args)` runs `value.m(*args)` on the owner and returns it."""
        return _Proxy(self, "rpc_sync", timeout)

    def rpc_async(self, timeout=-1.0):
        """`rref.rpc_async().m(*args)`: a Future of `value.m(*args)` run on the owner."""
        return _Proxy(self, "rpc_async", timeout)

    def remote(self, timeout=-1.0):
        """`rref.remote().m(*args)`: an RRef (on the owner) to `value.m(*args)`."""
        return _Proxy(self, "remote", timeout)


def _rref_from_wire(key, owner):
    r = RRef._make(key, owner, None)
    return r


def _invoke(rref, name, *args, **kwargs):
    """Runs on the owner: the proxied method call."""
    method = getattr(rref.local_value(), name)
    result = method(*args, **kwargs)
    if getattr(method, "_wrapped_async_rpc_function", None) is not None:
        # an @async_execution method: the agent replies when this Future completes
        result._rpc_async_reply = True
    return result


class _Proxy:
    def __init__(self, rref, how, timeout):
        self._rref, self._how, self._timeout = rref, how, timeout

    def __getattr__(self, name):
        from . import remote, rpc_async, rpc_sync

        fn = {"rpc_sync": rpc_sync, "rpc_async": rpc_async, "remote": remote}[self._how]
        rref, timeout = self._rref, self._timeout

        def call(*args, **kwargs):
            return fn(rref._owner, _invoke, (rref, name) + args, kwargs, timeout)

        return call
