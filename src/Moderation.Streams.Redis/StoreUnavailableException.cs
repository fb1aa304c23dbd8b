namespace Moderation.Streams.Redis;

/// <summary>
/// The Redis-protocol store could not answer in time (down, unreachable, timing out, or the circuit
/// breaker is open). The single failure type of this layer: callers catch it and carry on without the
/// store, e.g. by screening with the model.
/// </summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
