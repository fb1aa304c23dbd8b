using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Worker;

/// <summary>What a screener made of one upload.</summary>
/// <param name="Decision">The decision to publish; null when the upload goes to the DLQ instead (it could not be screened
/// and the policy's <c>unscreenable</c> is <c>dlq</c>).</param>
/// <param name="Failure">Why the upload could not be screened, when it could not (the decision, if any, fails closed on it).</param>
/// <param name="Shadow">The shadow model's would-be decision, published beside the live one.</param>
public sealed record Screened(DecisionEvent? Decision, Exception? Failure = null, OutboundMessage? Shadow = null)
{
    /// <summary>The decision had every bank acted on, when a bank tried on a share of uploads matched this one outside its
    /// share (<see cref="Verdict.WouldBe"/>): published on the shadow topic as would-have-matched, never acted on.</summary>
    public DecisionEvent? BankTrial { get; init; }
}
