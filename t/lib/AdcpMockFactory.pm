package AdcpMockFactory;

# A tenant config service for the tests: GET /platforms/<tenant> answers a
# platform descriptor chosen by the tenant's name, and appends the tenant
# to a counter file first (so a test can wait for the call and count it).
#
#   slow-*     answers after 1 s          hang-*     after 30 s
#   nf-*       404                        fail-*     500
#   notjson-*  200, not JSON              noup-*     no "upstream"
#   big-*      a 65 KB descriptor         types-*    "upstream": 5
#   reset-*    closes the connection      ttlone-*   "ttl": 1
#   caps-*     capabilities + routes      echo-*     upstream = the echo mock
#   stream-*   upstream = the streaming mock
#   slowbytes-*  a good descriptor, one byte per 20 ms
#   huge-*     10 MB of JSON               badutf8-*  invalid UTF-8 in a string
#   deep-*     100,000 '['
#   anything else: upstream = adapter A
#
# vars.build is how many times the tenant's factory was called; a file
# <counter>.fail-<tenant> makes it answer 500, <counter>.heal-<tenant>
# makes a fail-/nf- tenant answer a good descriptor.

use strict;
use warnings;

use AdcpTest qw(append_line json_encode);

sub handler {
    my (%o) = @_;    # counter, adapter, adapter_b_name, echo, stream

    return sub {
        my ($req) = @_;
        my ($t) = $req->{uri} =~ m{^/platforms/([^/?]+)} or return [400];

        append_line($o{counter}, $t);

        # a file "<counter>.<mode>-<tenant>" switches a tenant's answer
        for my $mode (qw(fail heal)) {
            if (-e "$o{counter}.$mode-$t") {
                return [500, {}, '{"error":"switched"}'] if $mode eq 'fail';
                $t =~ s/^(fail|nf)-/healed-/;
            }
        }

        my $n = do {
            open my $fh, '<', $o{counter};
            scalar grep { $_ eq "$t\n" } <$fh>;
        };

        my %d = (
            upstream      => "127.0.0.1:$o{adapter}",
            authorization => "Bearer secret-$t",
            vars          => { x => "v-$t", network_code => '123',
                               build => "$n" },
        );

        return [200, {}, json_encode(\%d), { delay => 1 }]
            if $t =~ /^slow/;
        return [200, {}, json_encode(\%d), { delay => 30 }]
            if $t =~ /^hang/;
        return [404, {}, '{"error":"no such tenant"}'] if $t =~ /^nf/;
        return [500, {}, '{"error":"boom"}'] if $t =~ /^fail/;
        return [200, {}, 'this is not json'] if $t =~ /^notjson/;
        return [200, {}, '{"authorization":"x"}'] if $t =~ /^noup/;
        return [200, {}, '{"upstream":5}'] if $t =~ /^types/;
        return [200, {}, '', { reset => 1 }] if $t =~ /^reset/;
        return [200, {}, '{"upstream":"x","vars":{"p":"'
            . ('h' x (10 * 1024 * 1024)) . '"}}'] if $t =~ /^huge/;
        return [200, {}, qq({"upstream":"127.0.0.1:$o{adapter}",)
            . '"authorization":"' . "\xff\xfe\xc3\x28" . '"}']
            if $t =~ /^badutf8/;
        return [200, {}, '[' x 100000] if $t =~ /^deep/;

        if ($t =~ /^slowbytes/) {
            my $body = json_encode({ upstream => "127.0.0.1:$o{adapter}" });
            return [200, {}, $body,
                { chunks => length $body, pause => 0.02 }];
        }

        if ($t =~ /^big/) {
            $d{vars}{pad} = 'p' x 66000;
        }

        if ($t =~ /^ttlone/) {
            $d{ttl} = 1;
        }

        if ($t =~ /^caps/) {
            $d{capabilities} = ['get_products', 'create_media_buy'];
            $d{routes} = { create_media_buy => $o{adapter_b_name} };
        }

        if ($t =~ /^echo/) {
            $d{upstream} = "127.0.0.1:$o{echo}";
        }

        if ($t =~ /^stream/) {
            $d{upstream} = "127.0.0.1:$o{stream}";
        }

        return [200, {}, json_encode(\%d)];
    };
}

1;
