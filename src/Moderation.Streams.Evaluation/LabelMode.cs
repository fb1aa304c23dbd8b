namespace Moderation.Streams.Evaluation;

/// <summary>How the labels of a set are read: the five classes, or a binary safe/unsafe split.</summary>
public enum LabelMode
{
    Classes,
    Binary,
}
