namespace Moderation.Streams.Inference.Tests;

/// <summary>One classifier for a test class, loaded the way production loads it (default name and folder).</summary>
public sealed class ClassifierFixture : IDisposable
{
    public OnnxImageClassifier Classifier { get; } = OnnxImageClassifier.Load();

    public void Dispose() => Classifier.Dispose();
}
