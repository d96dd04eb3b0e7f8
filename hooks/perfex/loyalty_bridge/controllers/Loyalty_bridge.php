<?php

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * admin/loyalty_bridge/...: the queue page, its retry button and the settings page's
 * "send a test event" button. Thin: each action calls one function of includes/.
 */
class Loyalty_bridge extends AdminController
{
    public function __construct()
    {
        parent::__construct();
        if (!loyalty_bridge_staff_can()) {
            access_denied(LOYALTY_BRIDGE_MODULE);
        }
    }

    /** Events not delivered yet, with their last error. */
    public function queue()
    {
        $this->load->view('queue', [
            'title' => _l('loyalty_bridge_queue'),
            'rows' => loyalty_bridge_unsent(),
        ]);
    }

    /** POST: send one queued or failed event again now. */
    public function retry($id)
    {
        if ($this->input->method() !== 'post') {
            show_404();
        }
        if (loyalty_bridge_retry((int) $id)) {
            loyalty_bridge_drain(1, [(int) $id]);
            set_alert('success', _l('loyalty_bridge_retried'));
        }
        redirect(admin_url('loyalty_bridge/queue'));
    }

    /** POST: the test event; answers JSON {ok, messages}. */
    public function test()
    {
        if ($this->input->method() !== 'post') {
            show_404();
        }
        $this->output
            ->set_content_type('application/json')
            ->set_output(json_encode(loyalty_bridge_test_connection()));
    }
}
