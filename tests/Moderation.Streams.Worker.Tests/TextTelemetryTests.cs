using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Text;

namespace Moderation.Streams.Worker.Tests;

/// <summary>The text counters: every caption or text checked is counted once by outcome, every match by kind.</summary>
public sealed class TextTelemetryTests
{
    private sealed class Unused : IImageClassifier
    {
        public ModelDescriptor Model { get; } = new("unused", 1, "", 224, ClassLabels.All);
        public string Device => "test";
        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images) => throw new InvalidOperationException("not used");
        public void Dispose() { }
    }

    [Fact]
    public async Task Texts_are_counted_by_field_and_outcome_and_matches_by_kind()
    {
        var field = $"caption-{Guid.NewGuid():N}"; // this test's own series: other tests run in parallel on the same meter
        var counted = new List<(string Instrument, long Value, Dictionary<string, string?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == WorkerTelemetry.MeterName && instrument.Name.StartsWith("moderation.text.", StringComparison.Ordinal)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, string?>();
            foreach (var tag in tags) map[tag.Key] = tag.Value?.ToString();
            if (map.GetValueOrDefault("field") == field) lock (counted) counted.Add((instrument.Name, value, map));
        });
        listener.Start();

        await using var batcher = new DynamicBatcher(new Unused());
        var matcher = new TextMatcher([TermBank.Load("t", new StringReader("scam,scam\nfraud,scam\n"))], [DomainBank.Load("d", new StringReader("bad.example,phishing\n"))]);
        bool trusted = true;
        var services = new ScreenerServices { Batcher = batcher, Stats = new ScreeningStats(), Logger = NullLogger.Instance, TextBanks = () => trusted ? matcher : null };

        await services.WithTextAsync(new UploadSignals(), "a scam and fraud at bad.example", field, TestContext.Current.CancellationToken);
        await services.WithTextAsync(new UploadSignals(), "a calm lake", field, TestContext.Current.CancellationToken);
        trusted = false;
        var failed = await services.WithTextAsync(new UploadSignals(), "anything", field, TestContext.Current.CancellationToken);
        Assert.Equal(BankStatus.Unavailable, failed.TextBanks);

        lock (counted)
        {
            Assert.Equal(["matched", "clean", "unavailable"],
                counted.Where(c => c.Instrument == WorkerTelemetry.TextScreenedCounter).Select(c => c.Tags["outcome"]));
            Assert.Equal(["domain", "term", "term"],
                counted.Where(c => c.Instrument == WorkerTelemetry.TextMatchesCounter).Select(c => c.Tags["kind"]).Order());
        }
    }
}
