using OrdersEs.Api;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.ReadModel;

var builder = WebApplication.CreateBuilder(args);

builder.Services
    .AddEventSourcing(builder.Configuration, typeof(Order).Assembly)
    .AddAggregate(() => new Order())
    .AddProjection<OrdersViewProjection>()
    .AddEventBus(builder.Configuration)
    .AddApi(builder.Configuration);

var app = builder.Build();
app.UseApi();
app.Run();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the integration tests.</summary>
public partial class Program;
