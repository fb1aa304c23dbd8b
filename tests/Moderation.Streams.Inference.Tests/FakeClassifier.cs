using System.Collections.Concurrent;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// A classifier that records the batches it is given and can be held shut: while the gate is closed, a call
/// blocks inside <see cref="Classify"/>. Each image's score is its width, so results can be matched to images.
/// </summary>
internal sealed class FakeClassifier : IImageClassifier
{
    private readonly ManualResetEventSlim _gate;
    private int _running;

    public FakeClassifier(bool open = true) => _gate = new ManualResetEventSlim(open);

    public ModelDescriptor Model { get; } = ModelRegistry.NsfwMobileNetV2;
    public string Device => "fake";
    public ConcurrentQueue<int[]> Batches { get; } = new();
    public int Running => Volatile.Read(ref _running);
    public int MostRunningAtOnce { get; private set; }
    public Exception? Throw { get; set; }

    public void Open() => _gate.Set();

    public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
    {
        int running = Interlocked.Increment(ref _running);
        lock (Batches) MostRunningAtOnce = Math.Max(MostRunningAtOnce, running);
        Batches.Enqueue(images.Select(i => i.Width).ToArray());
        try
        {
            if (!_gate.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the test never opened the gate");
            if (Throw is { } e) throw e;
            return images.Select(i => new ClassScores(Model.Labels, [i.Width, 0, 0, 0, 0])).ToArray();
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>A tiny image whose width identifies it.</summary>
    public static DecodedImage Image(int id) => new(id, 1, 1, new byte[id]);
}

/// <summary>A <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/> that counts the timers made on it.</summary>
internal sealed class CountingFakeTime : Microsoft.Extensions.Time.Testing.FakeTimeProvider
{
    private int _timers;

    public int TimersCreated => Volatile.Read(ref _timers);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timers);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}

internal static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds; fails after 10 s (a bound, not a timing assertion).</summary>
    public static async Task True(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"never happened: {what}");
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }
    }
}
