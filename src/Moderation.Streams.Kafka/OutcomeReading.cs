using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

public static class OutcomeReading
{
    /// <summary>Assigns every partition of the outcome topics (<see cref="Topics.Outcomes"/>), from the beginning:
    /// how the demo, the benchmarks and the chaos verifier read what the workers published.</summary>
    public static void AssignOutcomes<TKey, TValue>(this IConsumer<TKey, TValue> consumer, int partitions) =>
        consumer.Assign(Topics.Outcomes.SelectMany(t => Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))));
}
