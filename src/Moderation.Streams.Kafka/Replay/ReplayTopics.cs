using System.Reflection;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>Where replayed outcomes go: <c>moderation.backfill.&lt;action&gt;</c> by default, so consumers of the
/// live decisions never see a candidate policy's output unless the operator asks for it.</summary>
public static class ReplayTopics
{
    public const string Prefix = "moderation.backfill.";
    public const string Takedown = Prefix + Actions.Takedown;
    public const string Review = Prefix + Actions.Review;
    public const string Allow = Prefix + Actions.Allow;
    public const string Dlq = Prefix + "dlq";

    /// <summary>The consumer group that records a replay's progress.</summary>
    public static string GroupId(string name) => "moderation-replay-" + name;

    /// <summary>A copy of <paramref name="live"/> whose decision and DLQ topics are the backfill topics
    /// (or unchanged when <paramref name="toLiveTopics"/>).</summary>
    public static KafkaOptions Output(KafkaOptions live, bool toLiveTopics)
    {
        var copy = new KafkaOptions();
        // Every settable property, so settings added to KafkaOptions later are carried without touching this.
        foreach (var property in typeof(KafkaOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite))
            property.SetValue(copy, property.GetValue(live));
        copy.Properties = new Dictionary<string, string>(live.Properties);
        if (!toLiveTopics)
        {
            copy.TakedownTopic = Takedown;
            copy.ReviewTopic = Review;
            copy.AllowTopic = Allow;
            copy.DlqTopic = Dlq;
        }
        return copy;
    }
}
