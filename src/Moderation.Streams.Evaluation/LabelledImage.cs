namespace Moderation.Streams.Evaluation;

/// <summary>One labelled image.</summary>
public sealed record LabelledImage(string Path, string Label, int Line);
