# base: header :is/:contains/:matches, if/elsif/else, keep, discard, stop
if header :contains "subject" "meeting" { keep; stop; }
elsif header :is "X-Priority" "3" { discard; }
elsif header :matches "subject" "Re: *" { discard; }
else { keep; }
