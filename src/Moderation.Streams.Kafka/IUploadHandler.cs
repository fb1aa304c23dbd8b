using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>Turns one consumed upload into the records to publish. Bad input is an outcome (a DLQ record),
/// not an exception; an exception means the service itself failed for this upload.</summary>
public interface IUploadHandler
{
    Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct);

    /// <summary>The outcome of an upload whose <see cref="HandleAsync"/> threw (the service failed, not the input), so the
    /// handler's policy decides it (a fail-closed review, or the DLQ); null for the consume loop's default, a DLQ record
    /// with code <c>internal</c>. Must not throw (if it does, the default is used).</summary>
    IReadOnlyList<OutboundMessage>? Unhandled(ConsumeResult<byte[]?, byte[]?> upload, Exception error) => null;
}
