using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

/// <summary>
/// <c>Inference:Device</c> and <c>Inference:Precision</c> at worker start, on this CPU-only build: <c>cuda</c> refuses
/// to start with a clear message; <c>auto</c> runs on the CPU and says so loudly (and runs fp32 when fp16 was asked
/// for); the model chosen by configuration, at the precision that runs, is the version every decision carries.
/// </summary>
public sealed class InferenceDeviceTests
{
    [Fact]
    public async Task Cuda_requested_where_it_cannot_run_stops_the_worker_at_start_with_the_reason_and_the_way_out()
    {
        var logs = new Logs();
        int exitCode = Environment.ExitCode;
        try
        {
            using var host = WorkerHost.Build(new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = "127.0.0.1:1",
                ["Inference:Device"] = "cuda",
            }, logging => logging.AddProvider(logs));
            await host.StartAsync(TestContext.Current.CancellationToken);

            var service = host.Services.GetRequiredService<ScreeningService>();
            var error = await Assert.ThrowsAsync<ExecutionProviderUnavailableException>(
                () => service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            Assert.Contains("Inference:Device is 'cuda'", error.Message, StringComparison.Ordinal);
            Assert.Contains("'auto'", error.Message, StringComparison.Ordinal);
            Assert.Equal(1, Environment.ExitCode);
            Assert.Contains(logs.Lines, l => l.StartsWith("Critical", StringComparison.Ordinal) && l.Contains("cuda", StringComparison.Ordinal));
            Assert.True(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            Environment.ExitCode = exitCode;
        }
    }

    [Fact]
    public async Task Auto_falls_back_to_the_cpu_loudly_and_decisions_carry_the_configured_models_version()
    {
        await using var stack = new EmbeddedStack();
        var logs = new Logs();
        using var host = WorkerHost.Build(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = stack.Broker.BootstrapServers,
            ["Kafka:GroupId"] = stack.GroupId,
            ["Kafka:SessionTimeoutMs"] = "6000",
            ["Media:Root"] = stack.MediaRoot.FullName,
            ["Inference:Device"] = "auto",
            ["Inference:MaxBatchSize"] = "4",
            ["Screening:Model"] = "nsfw-mobilenet-v2-mid",
        }, logging => logging.AddProvider(logs));
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<ScreeningService>();
        await service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal("cpu", service.Inference!.Device);
        Assert.NotNull(service.Inference.DeviceFallbackReason);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("CUDA is not usable", StringComparison.Ordinal));

        var uploads = Enumerable.Range(0, 6)
            .Select(i => ($"u-{i}", EmbeddedStack.Upload($"u-{i}", stack.WriteImage($"u-{i}.png", SampleImages.Png(300 + i, 64, 48)))))
            .ToList();
        stack.Produce(uploads);
        var records = stack.ReadOutcomes(uploads.Count, deadline: TimeSpan.FromSeconds(60));
        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(uploads.Count, records.Count);
        Assert.All(records, r => Assert.Equal("nsfw-mobilenet-v2-mid@1", r.Decision.ModelVersion));
    }

    [Fact]
    public async Task Fp16_on_the_cpu_runs_the_float16_variant_and_decisions_carry_its_own_version()
    {
        await using var stack = new EmbeddedStack();
        var logs = new Logs();
        using var host = WorkerHost.Build(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = stack.Broker.BootstrapServers,
            ["Kafka:GroupId"] = stack.GroupId,
            ["Kafka:SessionTimeoutMs"] = "6000",
            ["Media:Root"] = stack.MediaRoot.FullName,
            ["Inference:Device"] = "cpu",
            ["Inference:Precision"] = "fp16",
            ["Inference:MaxBatchSize"] = "4",
        }, logging => logging.AddProvider(logs));
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<ScreeningService>();
        await service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(InferencePrecision.Fp16, service.Inference!.Precision);
        Assert.Equal("nsfw-mobilenet-v2@1+fp16", service.Health().Model);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Inference:Precision=fp16 on the CPU", StringComparison.Ordinal));

        var uploads = Enumerable.Range(0, 4)
            .Select(i => ($"h-{i}", EmbeddedStack.Upload($"h-{i}", stack.WriteImage($"h-{i}.png", SampleImages.Png(400 + i, 64, 48)))))
            .ToList();
        stack.Produce(uploads);
        var records = stack.ReadOutcomes(uploads.Count, deadline: TimeSpan.FromSeconds(60));
        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(uploads.Count, records.Count);
        Assert.All(records, r => Assert.Equal("nsfw-mobilenet-v2@1+fp16", r.Decision.ModelVersion));
    }

    [Fact]
    public void Fp16_with_auto_where_cuda_cannot_run_loads_the_fp32_model_and_the_warning_says_why()
    {
        var logs = new Logs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        using var classifier = InferenceSetup.LoadClassifier(new ScreeningOptions(),
            new InferenceOptions { Device = InferenceDevice.Auto, Precision = InferencePrecision.Fp16 }, factory.CreateLogger("test"));

        Assert.Equal("nsfw-mobilenet-v2@1", classifier.Model.VersionedName);
        Assert.Equal(InferencePrecision.Fp32, classifier.Precision);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("CUDA is not usable", StringComparison.Ordinal)
            && l.Contains("Inference:Precision=fp16 is for CUDA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fp16_for_a_model_without_a_float16_variant_stops_the_worker_at_start_naming_the_models_with_one()
    {
        int exitCode = Environment.ExitCode;
        try
        {
            using var host = WorkerHost.Build(new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = "127.0.0.1:1",
                ["Screening:Model"] = "nsfw-inception-v3",
                ["Inference:Precision"] = "fp16",
            }, logging => logging.AddProvider(new Logs()));
            await host.StartAsync(TestContext.Current.CancellationToken);

            var service = host.Services.GetRequiredService<ScreeningService>();
            var error = await Assert.ThrowsAsync<ArgumentException>(
                () => service.Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            Assert.Contains("'nsfw-inception-v3' has no fp16 variant", error.Message, StringComparison.Ordinal);
            Assert.Contains("nsfw-mobilenet-v2", error.Message, StringComparison.Ordinal);
            Assert.Equal(1, Environment.ExitCode);
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            Environment.ExitCode = exitCode;
        }
    }

    private sealed class Logs : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capturing(this);

        public void Dispose()
        {
        }

        private sealed class Capturing(Logs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel} {formatter(state, exception)}");
        }
    }
}
