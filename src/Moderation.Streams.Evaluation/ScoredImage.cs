namespace Moderation.Streams.Evaluation;

/// <summary>One labelled image with what the model(s) said.</summary>
public sealed record ScoredImage(string Path, string Label, IReadOnlyDictionary<string, float> Scores)
{
    public string TopLabel => Scores.MaxBy(kv => kv.Value).Key;
}
