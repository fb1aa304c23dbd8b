namespace Moderation.Streams.Review;

/// <summary>How often reviewers overturned the machine for one model version and class (or one non-model signal).</summary>
public sealed record OverturnRow(string ModelVersion, string Class, long Reviewed, long Overturned)
{
    public double Rate => Reviewed == 0 ? 0 : (double)Overturned / Reviewed;
}
