namespace Moderation.Streams.Hashing.Banks;

/// <summary>A video found in (or containing something from) a bank.</summary>
/// <param name="MatchId">The banked video's id (before <c>#t=</c>) or the banked image's id.</param>
/// <param name="IsVideo">True when a banked video matched (vPDQ rule), false for a banked image seen in frames.</param>
/// <param name="Distance">Smallest Hamming distance of any matching frame.</param>
/// <param name="FrameTimestampsMs">The upload's frames that matched, in order.</param>
/// <param name="FramesHashed">The upload's frames of matchable quality.</param>
/// <param name="BankFramesMatched">Banked frames matched (videos), of <paramref name="BankFrames"/>.</param>
public sealed record VideoBankMatch(string Bank, string MatchId, bool IsVideo, int Distance, IReadOnlyList<long> FrameTimestampsMs,
    int FramesHashed, int BankFramesMatched, int BankFrames)
{
    /// <summary>The closest matching bank entry (a banked video's frame, or the banked image): its label, source and
    /// added_at are the match's provenance. Null only for matches made by hand in tests.</summary>
    public BankEntry? Entry { get; init; }

    public double QueryShare => FramesHashed == 0 ? 0 : (double)FrameTimestampsMs.Count / FramesHashed;
    public double BankShare => BankFrames == 0 ? 0 : (double)BankFramesMatched / BankFrames;
}
