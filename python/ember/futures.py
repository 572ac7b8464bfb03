"""ember.futures: PyTorch's torch.futures (Future, collect_all, wait_all).

A Future holds the result of work that finishes later, for example an RPC
(`ember.distributed.rpc.rpc_async`). It is thread safe: any thread may complete it with
set_result / set_exception, and any thread may wait() on it. Callbacks run in the thread
that completes the future (or at once, in the caller's thread, if it is already done), as
PyTorch's do, so they should not block.
"""

import threading

__all__ = ["Future", "collect_all", "wait_all"]


class Future:
    """PyTorch's torch.futures.Future."""

    def __init__(self, *, devices=None):
        self._cond = threading.Condition()
        self._done = False
        self._value = None
        self._exc = None
        self._callbacks = []

    def __repr__(self):
        return f"ember.futures.Future(done={self._done})"

    def done(self):
        """True once a result or an error is set."""
        return self._done

    def wait(self):
        """Block until the future is done; return its value or raise its error."""
        with self._cond:
            while not self._done:
                self._cond.wait()
        return self.value()

    def _wait_for(self, seconds):
        """Block at most `seconds` (None: forever); True if the future is done."""
        with self._cond:
            if seconds is None:
                while not self._done:
                    self._cond.wait()
            else:
                self._cond.wait_for(lambda: self._done, seconds)
            return self._done

    def value(self):
        """The result of a done future (raises its error); it does not block."""
        if not self._done:
            raise RuntimeError("Future.value: the future is not completed yet; call wait()")
        if self._exc is not None:
            raise self._exc
        return self._value

    def _complete(self, value, exc, runner=None):
        # runner(fn): where callbacks run if there are any (the RPC agent passes a thread
        # pool, so user callbacks never run on its communication thread)
        with self._cond:
            if self._done:
                raise RuntimeError("Future can only be marked completed once.")
            self._value, self._exc, self._done = value, exc, True
            callbacks, self._callbacks = self._callbacks, []
            self._cond.notify_all()
        if callbacks and runner is not None:
            runner(lambda: [cb(self) for cb in callbacks])
            return
        for cb in callbacks:
            cb(self)

    def set_result(self, result):
        """Mark the future done with `result` and run its callbacks."""
        self._complete(result, None)

    def set_exception(self, result):
        """Mark the future failed: wait() and value() raise `result`."""
        if not isinstance(result, BaseException):
            raise TypeError(
                f"Future.set_exception: expected an exception, got {type(result).__name__}"
            )
        self._complete(None, result)

    def add_done_callback(self, callback):
        """Run callback(self) when done (now, if it is done already); the return is ignored."""

        def run(fut):
            try:
                callback(fut)
            except Exception as e:  # PyTorch logs and swallows errors of done-callbacks
                import sys

                print(f"Got the following error when running the callback: {e!r}", file=sys.stderr)

        with self._cond:
            if not self._done:
                self._callbacks.append(run)
                return
        run(self)

    def then(self, callback):
        """A new Future holding callback(self) once this one is done (or its error)."""
        out = Future()

        def run(fut):
            try:
                v = callback(fut)
            except BaseException as e:
                out.set_exception(e)
                return
            out.set_result(v)

        with self._cond:
            if not self._done:
                self._callbacks.append(run)
                return out
        run(self)
        return out


def collect_all(futures):
    """A Future that completes with the list of `futures` once all of them are done."""
    futures = list(futures)
    out = Future()
    if not futures:
        out.set_result([])
        return out
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            out.set_result(futures)

    for f in futures:
        f.add_done_callback(one_done)
    return out


def wait_all(futures):
    """Wait for every future and return their values (the first error is raised)."""
    return [f.wait() for f in futures]
