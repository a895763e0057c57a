using OrdersEs.Api;
using OrdersEs.Api.Operations;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Messaging;
#if (aspire)
using OrdersEs.ServiceDefaults;
#endif

try
{
    var builder = WebApplication.CreateBuilder(args);
#if (aspire)
    builder.AddServiceDefaults();
#endif

    // Aggregates, events, read models, projections and endpoint groups are found in the service's assemblies.
    builder.Services
        .AddEventSourcing(builder.Configuration, ServiceAssemblies.All)
        .AddEventBus(builder.Configuration)
        .AddApi(builder.Configuration, ServiceAssemblies.All);

    var app = builder.Build();
    app.ValidateConfiguration().UseApi();
    app.Run();
    return 0;
}
catch (Exception e) when (ConfigurationErrors.Line(e) is { } line)
{
    // One line naming the key, not a stack trace: the operator has a value to fix, not a bug to report.
    Console.Error.WriteLine(line);
    return ConfigurationErrors.ExitCode;
}

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the integration tests.</summary>
public partial class Program;
