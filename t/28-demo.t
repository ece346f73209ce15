#!/usr/bin/perl

# The demo's configuration (conf-examples/quickstart.conf and platforms/)
# on free ports: its mock adapter answers each transport in its own form,
# echoing the request's JSON-RPC id (issue 14): an MCP tools/call gets an
# MCP result, an A2A 1.0 SendMessage an A2A Task ({"task": ...},
# TASK_STATE_COMPLETED, a data part without "kind"), an A2A 0.3
# message/send a Task with "kind" (state completed, a "data" part).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use Test::More;
use AdcpTest qw(http_post_json json_decode json_encode);

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $ex = AdcpTest::repo_root() . '/conf-examples';
my $t = AdcpTest->new;

sub slurp {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

my %port = (8080 => 'http', 8081 => 'adapter', 8082 => 'factory',
    6390 => 'redis');

sub ports {
    my ($text) = @_;
    $text =~ s/127\.0\.0\.1:(8080|8081|8082|6390)\b/127.0.0.1:%%PORT_$port{$1}%%/g;
    return $text;
}

# the configuration as shipped, with the test's ports, log and pid

my $conf = ports(slurp("$ex/quickstart.conf"));
$conf =~ s/^load_module .*\n//m;
$conf =~ s/^pid .*\n//m;
$conf =~ s/^error_log .*\n/%%TEST_GLOBALS%%\n/m or die 'no error_log line';
$conf =~ s/^(\s*)access_log logs\/access\.log;/$1%%TEST_GLOBALS_HTTP%%/m
    or die 'no access_log line';
$conf =~ s/^\s*(client_body_temp_path|proxy_temp_path) .*\n//mg;

for my $f (glob "$ex/platforms/*.json") {
    my ($name) = $f =~ m{([^/]+)$};
    $t->write_file_expand("platforms/$name", ports(slurp($f)));
}

$t->redis_start();
$t->write_file_expand('nginx.conf', $conf);
$t->run();

my $port = $t->port('http');

sub call {
    my ($host, $body) = @_;
    my $r = http_post_json($port, $host, '/mcp', json_encode($body));
    return ($r, json_decode($r->{body}));
}

# MCP

my ($r, $j) = call('wonderstruck.localhost', { jsonrpc => '2.0', id => 1,
    method => 'tools/call', params => { name => 'get_products',
    arguments => { brief => 'sports' } } });
is($r->{status}, 200, 'MCP tools/call: 200');
is($j->{id}, 1, 'MCP: the id echoed');
is($j->{result}{structuredContent}{products}[0]{product_id},
    'wonderstruck-display', 'MCP: structuredContent, for the tenant');
is($j->{result}{content}[0]{type}, 'text', 'MCP: a text content item');

($r, $j) = call('wonderstruck.localhost', { jsonrpc => '2.0', id => 'm-2',
    method => 'tools/call', params => { name => 'get_products',
    arguments => {} } });
is($j->{id}, 'm-2', 'MCP: a string id echoed');

# A2A 1.0, as the demo sends it

($r, $j) = call('foo.agents.localhost', { jsonrpc => '2.0', id => 'a',
    method => 'SendMessage', params => { message => { parts => [
    { data => { skill => 'get_products', input => {} } } ] } } });
is($r->{status}, 200, 'A2A 1.0 SendMessage: 200');
is($j->{id}, 'a', 'A2A 1.0: the id echoed');
ok(!exists $j->{result}{content}, 'A2A 1.0: no MCP content');
my $task = $j->{result}{task} // {};
like($task->{id} // '', qr/^demo-[0-9a-f]+$/, 'A2A 1.0: a Task with an id');
ok($task->{contextId}, 'A2A 1.0: and a contextId');
is($task->{status}{state}, 'TASK_STATE_COMPLETED', 'A2A 1.0: completed');
my $part = $task->{artifacts}[0]{parts}[0] // {};
ok(!exists $part->{kind}, 'A2A 1.0: a data part without "kind"');
is($part->{data}{products}[0]{product_id}, 'foo-display',
    'A2A 1.0: the AdCP result in the data part, for the tenant');

# A2A 0.3

($r, $j) = call('foo.agents.localhost', { jsonrpc => '2.0', id => 7,
    method => 'message/send', params => { message => { kind => 'message',
    role => 'user', messageId => 'm1', parts => [ { kind => 'data',
    data => { skill => 'get_products', parameters => {} } } ] } } });
is($r->{status}, 200, 'A2A 0.3 message/send: 200');
is($j->{id}, 7, 'A2A 0.3: the id echoed');
is($j->{result}{kind}, 'task', 'A2A 0.3: a Task');
is($j->{result}{status}{state}, 'completed', 'A2A 0.3: completed');
is($j->{result}{artifacts}[0]{parts}[0]{kind}, 'data',
    'A2A 0.3: a data part');
is($j->{result}{artifacts}[0]{parts}[0]{data}{products}[0]{product_id},
    'foo-display', 'A2A 0.3: the AdCP result');

$t->stop();

done_testing();
