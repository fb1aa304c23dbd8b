using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>Turns one consumed upload into the records to publish. Bad input is an outcome (a DLQ record),
/// not an exception; an exception means the service itself failed for this upload.</summary>
public interface IUploadHandler
{
    Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct);
}
