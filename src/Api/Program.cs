using OrdersEs.Api;
using OrdersEs.Api.Operations;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.ReadModel;

try
{
    var builder = WebApplication.CreateBuilder(args);

    builder.Services
        .AddEventSourcing(builder.Configuration, typeof(Order).Assembly)
        .AddAggregate(() => new Order())
        .AddProjection<OrdersViewProjection>()
        .AddEventBus(builder.Configuration)
        .AddApi(builder.Configuration);

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
